"""``python -m receiptcore``: the same command line as the ``receiptcore`` console script."""

from receiptcore.entrypoints.cli import main

if __name__ == "__main__":
    main(prog_name="receiptcore")
