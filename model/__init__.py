"""cursorprint.model: rasterizer, data set readers, network, training, evaluation, head store.

Imports nothing from ``cursorprint.stream`` so that offline training never needs Kafka.
"""
