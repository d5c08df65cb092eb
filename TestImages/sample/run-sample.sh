#!/usr/bin/env bash
# The quick start's main job (`./dev sample`): what a CI worker does with an image archive,
# done with qcowtool alone.   run-sample.sh PATH/TO/qcowtool WORK_FOLDER
set -euo pipefail
tool=${1:?path to qcowtool}
work=${2:?a scratch folder}
here=$(cd "$(dirname "$0")" && pwd)
archive="$here/image.tar.zst"
run() { echo; echo "\$ qcowtool $*"; "$tool" "$@"; }

run verify "$archive"
run extract "$archive" "$work/image"
run inspect "$work/image/layer.qcow2"
run check "$work/image/layer.qcow2"
# A VM instance gets a private overlay over the image's disk:
run create -f qcow2 -b disk.img -F raw "$work/image/instance.qcow2"
run inspect --json "$work/image/instance.qcow2"
run map "$work/image/instance.qcow2"
# ...and an image folder packs back into an archive:
run package "$work/image" "$work/repacked.tar.zst"
run verify "$work/repacked.tar.zst"
