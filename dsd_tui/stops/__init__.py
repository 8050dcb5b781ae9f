"""Stop analysis: when a stop criterion fires, what its firing keeps and costs, and what a phase says.

All pure functions of the rung records (no training, no files), so each is tested on made-up ladders.
"""
