"""The site's side: ``POST /v1/decisions`` (a risk decision from the live scores of a page
session and the site's policy) and ``POST /v1/feedback`` (labels; confirmed owners' sessions go
to ``trusted-sessions`` and enroll them). A service of its own, next to ingest: see
:mod:`.service`."""
