"""The terminal UI (Textual): one app, `app.DsdApp`, whose screens are the run monitor, the sweep table and the
run comparison. `app.run_app(session)` runs a ladder under the monitor, `app.watch_app(path)` follows one.

The engine never imports this package; the monitor is one more event sink (see feed.py).
"""
