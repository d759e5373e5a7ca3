#!/usr/bin/env bash
# Make sure Debian's dataset-fashion-mnist is installed (the tests and the demo read it).
# Installs it when we are root with apt-get; otherwise says how and exits 0 so the
# tests that need it skip with a clear reason.
set -u
DIR=/usr/share/datasets/fashion-mnist
if [ -f "$DIR/train-images-idx3-ubyte.gz" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian package dataset-fashion-mnist ..."
  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 ||
   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) ||
   echo "could not install dataset-fashion-mnist; Fashion-MNIST tests will be skipped" >&2
else
  echo "Fashion-MNIST missing: run 'sudo apt-get install dataset-fashion-mnist'; those tests will be skipped" >&2
fi
exit 0
