#!/bin/sh
# Put Transfer Studio in the desktop's application menu.
#   ./install-desktop-entry.sh            for you   (~/.local/share/applications)
#   sudo ./install-desktop-entry.sh --system   for everyone (/usr/local/share/applications)
# Run it from the unpacked transfer-studio folder; it links nothing, it only writes the
# menu entry (with this folder's absolute path) and the icon. Uninstall: delete those two files.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "--system" ]; then
    SHARE=/usr/local/share
else
    SHARE=${XDG_DATA_HOME:-$HOME/.local/share}
fi
test -x "$HERE/transfer-studio" || { echo "transfer-studio not found in $HERE: run this script from the unpacked folder." >&2; exit 1; }
mkdir -p "$SHARE/applications" "$SHARE/icons/hicolor/256x256/apps"
cp "$HERE/app.png" "$SHARE/icons/hicolor/256x256/apps/transfer-studio.png"
sed -e "s|^Exec=transfer-studio|Exec=\"$HERE/transfer-studio\"|" \
    -e "s|^TryExec=transfer-studio|TryExec=$HERE/transfer-studio|" \
    "$HERE/transfer-studio.desktop" > "$SHARE/applications/transfer-studio.desktop"
chmod 644 "$SHARE/applications/transfer-studio.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$SHARE/applications" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$SHARE/icons/hicolor" 2>/dev/null || true
echo "Installed $SHARE/applications/transfer-studio.desktop (runs $HERE/transfer-studio)."
