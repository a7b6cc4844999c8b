import sys

from microgrid.cli import main

if __name__ == "__main__":  # worker processes of a sweep's local cluster import this module again
    sys.exit(main())
