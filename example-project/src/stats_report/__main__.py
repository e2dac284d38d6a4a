"""Print summary statistics of the numbers given on the command line (or a built-in sample)."""

import sys

import attrs
import numpy as np
from report_format import format_table


@attrs.frozen
class Summary:
    count: int
    mean: float
    stdev: float


def summarise(values: list[float]) -> Summary:
    data = np.asarray(values, dtype=float)
    return Summary(count=int(data.size), mean=float(data.mean()), stdev=float(data.std()))


def main(argv: list[str]) -> int:
    values = [float(v) for v in argv] or [1.0, 2.0, 3.0, 4.0]
    summary = summarise(values)
    print(format_table({"count": summary.count, "mean": summary.mean, "stdev": summary.stdev}))
    print(f"numpy {np.__version__} from {np.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
