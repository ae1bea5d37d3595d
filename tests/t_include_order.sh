#!/usr/bin/env bash
# t_include_order: includes point down the layers. A file in src/FOLDER/ includes headers of
# its own folder or of a folder below it: base < object < s3, block < app (s3 and block are
# side by side and include neither the other). Every include of ours names its folder.
set -u
cd "${S3DISK_SRCDIR:-$(dirname "$0")/..}/src" || exit 1
rank() {
  case $1 in
  base) echo 0 ;; object) echo 1 ;; s3 | block) echo 2 ;; app) echo 3 ;; *) echo -1 ;;
  esac
}
bad=0
for file in */*.cc */*.h; do
  folder=${file%%/*}
  [ "$(rank "$folder")" -ge 0 ] || { echo "$file: folder $folder is not a known layer"; bad=1; }
  while IFS=: read -r line header; do
    to=${header%%/*}
    if [ "$to" = "$header" ]; then
      echo "$file:$line: #include \"$header\" does not name its folder"
      bad=1
    elif [ "$to" != "$folder" ] && [ "$(rank "$to")" -ge "$(rank "$folder")" ]; then
      echo "$file:$line: $folder/ may not include $header ($to/ is not below $folder/)"
      bad=1
    fi
  done < <(grep -n '^#include "' "$file" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1:\2/')
done
[ $bad -eq 0 ] && echo "t_include_order: every include points down"
exit $bad
