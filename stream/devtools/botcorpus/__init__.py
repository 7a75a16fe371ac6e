"""Bot corpus generator: humanizing mouse libraries driving Chromium through the real collector.

``corpus.make_corpus`` (the ``cursorprint bots corpus`` command) records page sessions of task
pages (``pages.py``) driven by npm ``ghost-cursor``, playwright ``mouse.move(steps=...)``, replays
of SapiMouse human strokes (``replay.py``), and the Python libraries ``pyautogui`` + ``pytweening``,
``humancursor`` and ``pyclick`` moving the X pointer under Xvfb (``xdriver.py``).
"""
