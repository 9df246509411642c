"""``python -m mobilise.emulator``: the same commands as ``mobilise emulator``."""

from mobilise.cli.emulator import app

if __name__ == "__main__":
    app()
