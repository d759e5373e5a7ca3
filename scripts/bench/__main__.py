"""``python -m scripts.bench``: the whole benchmark table (see :mod:`scripts.bench.run`)."""
from scripts.bench.run import main

main()
