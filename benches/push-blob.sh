#!/bin/sh
# The raw HTTP push floor: uploads one blob to a registry the way the
# distribution spec's monolithic upload does it (POST, then PUT with the
# digest), with nothing but curl. run.py starts several at once with xargs.
#   HOST=127.0.0.1:PORT REPO=name [SCHEME=https CURL_OPTS='--cacert CA'] push-blob.sh FILE DIGEST
set -e
scheme=${SCHEME:-http}
# shellcheck disable=SC2086 # CURL_OPTS is a list of words
loc=$(curl -sf $CURL_OPTS -o /dev/null -D - -X POST "$scheme://$HOST/v2/$REPO/blobs/uploads/" |
	tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case "$loc" in
http*) ;;
*) loc="$scheme://$HOST$loc" ;;
esac
case "$loc" in
*\?*) sep='&' ;;
*) sep='?' ;;
esac
# shellcheck disable=SC2086
curl -sf $CURL_OPTS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
	-T "$1" "$loc${sep}digest=$2"
