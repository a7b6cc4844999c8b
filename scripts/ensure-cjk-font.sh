#!/usr/bin/env bash
# Make a Chinese (CJK) font available for the Chinese plot labels (schedule.png, reports): Debian's
# fonts-wqy-microhei (5 MB) or fonts-noto-cjk. Nothing is downloaded at run time: without one of them the
# plots fall back to English labels with a warning, and the Chinese-plot tests skip with a message.
set -u
for f in /usr/share/fonts/truetype/wqy/wqy-microhei.ttc /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc; do
  [ -f "$f" ] && exit 0
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's fonts-wqy-microhei for the Chinese plot labels (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 \
     || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1; }; then
    exit 0
  fi
  echo "warning: could not install fonts-wqy-microhei with apt-get; Chinese plots will use English labels" >&2
else
  echo "warning: no CJK font; install one (sudo apt-get install fonts-wqy-microhei) for Chinese plot labels" >&2
fi
exit 0
