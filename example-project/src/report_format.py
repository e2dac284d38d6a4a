"""Support module shipped with the stats app: plain-text table formatting."""


def format_table(rows: dict[str, float | int]) -> str:
    width = max(len(key) for key in rows)
    return "\n".join(f"{key:<{width}}  {value:.4g}" for key, value in rows.items())
