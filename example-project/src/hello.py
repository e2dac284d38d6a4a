"""Say hello in an internationalised domain name: shows an app on the runtime alone."""

import sys

import idna


def main(argv: list[str]) -> int:
    name = argv[0] if argv else "bücher.example"
    print(f"hello from {sys.prefix}: {name} -> {idna.encode(name).decode()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
