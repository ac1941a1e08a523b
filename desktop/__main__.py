from desktop.cli import main

# Guarded: a reading process of a large import (multiprocessing's spawn) imports the
# parent's __main__ module under another name, and must not run the command again.
if __name__ == "__main__":
    raise SystemExit(main())
