# shellcheck shell=bash
# Sourced by build-image.sh and lab.sh: the Debian release of the lab (LAB_RELEASE) and its image.
#   LAB_RELEASE=bookworm  Debian 12 (the default)   image localhost/acgs-lab-debian12
#   LAB_RELEASE=trixie    Debian 13                 image localhost/acgs-lab-debian13
LAB_RELEASE=${LAB_RELEASE:-bookworm}
case "$LAB_RELEASE" in
  bookworm) LAB_DEBIAN=12 ;;
  trixie) LAB_DEBIAN=13 ;;
  *) echo "ERROR: LAB_RELEASE=$LAB_RELEASE is not a release the lab knows: use LAB_RELEASE=bookworm (Debian 12) or LAB_RELEASE=trixie (Debian 13)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2034 # used by the scripts that source this file
IMAGE=${LAB_IMAGE:-localhost/acgs-lab-debian$LAB_DEBIAN:latest}
