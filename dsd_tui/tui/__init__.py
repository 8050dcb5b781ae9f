"""The live terminal monitor (Textual): `app.run_app(session)` for a run, `app.watch_app(path)` to follow one.

The engine never imports this package; the app is one more event sink (see feed.py).
"""
