"""``python -m bench``: run the whole benchmark (``make bench``)."""

from bench.runner import main

if __name__ == "__main__":
    main()
