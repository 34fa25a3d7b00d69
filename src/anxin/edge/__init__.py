"""``anxin edge``: the station-side store-and-forward agent (站端上传代理)."""
