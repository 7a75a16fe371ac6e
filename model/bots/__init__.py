"""Bot score: features, models, training and leave-one-library-out evaluation."""
