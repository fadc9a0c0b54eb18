#!/usr/bin/env bash
# The Debian package: built by CPack from this build into a scratch folder,
# its control fields, file list and Depends checked (dpkg-deb -I/-c;
# deb_depends.py derives what is needed independently), then installed with
# dpkg into a scratch root whose package database is a copy of this
# machine's, so dpkg itself checks that every dependency is satisfied. The
# installed fedc (it loads this machine's shared libraries, as on a machine
# with the package installed) prints its version and compiles and runs an
# example from /usr/share/doc/fedc/examples of that root; then the package
# is removed and must leave nothing behind.
# usage: deb.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb test: $*" >&2; exit 1; }
if ! command -v dpkg-deb > /dev/null; then
  echo "deb test: skipped (no dpkg-deb: not a Debian system)"
  exit 77
fi

cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" > "$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack failed"; }
version=$("$build/bin/fedc" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
deb=$tmp/out/fedc_${version}_${arch}.deb
[ -f "$deb" ] || fail "no $(basename "$deb"): $(ls "$tmp/out")"
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

dpkg-deb -I "$deb" > "$tmp/info"
for field in "Package: fedc" "Version: $version" "Architecture: $arch" \
             "Section: devel"; do
  grep -q "^ $field\$" "$tmp/info" || fail "control lacks '$field'"
done

# Files: the compiler, the runtime with its link list and headers, the
# stdlib, and every example, data file and doc; nothing else in bin and lib.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | sort > "$tmp/files"
expected=(usr/bin/fedc usr/lib/libfedrt.link usr/lib/libfedrt_core.a
          usr/lib/libfedrt_main.a usr/lib/libfedrt_net.a usr/lib/libfedrt_plan.a
          usr/lib/libfedrt_secagg.a
          usr/share/doc/fedc/README.md)
cd "$src"
while read -r f; do expected+=("usr/include/$f"); done < <(cd runtime/include && find fedrt -type f)
while read -r f; do expected+=("usr/share/fedc/$f"); done < <(find stdlib -name '*.fed')
while read -r f; do expected+=("usr/share/doc/fedc/$f"); done < <(find docs examples -type f)
for f in "${expected[@]}"; do
  grep -qxF "$f" "$tmp/files" || fail "the package lacks $f"
done
if grep -v -e '^usr/' "$tmp/files"; then fail "files outside /usr"; fi
[ "$(grep -c -e '^usr/bin/' -e '^usr/lib/' "$tmp/files")" -eq 7 ] ||
  fail "unexpected programs or libraries: $(grep -e '^usr/bin/' -e '^usr/lib/' "$tmp/files")"

# A scratch root with this machine's package database.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" \
         "$root/var/lib/dpkg/triggers"
cp /var/lib/dpkg/status "$root/var/lib/dpkg/status"
: > "$root/var/lib/dpkg/available"
# Empty file lists: the packages' files are not in the scratch root.
dpkg-query -W -f='${binary:Package}\n' | while read -r p; do
  : > "$root/var/lib/dpkg/info/$p.list"
done
# dpkg wants ldconfig and start-stop-daemon on PATH (in /sbin).
dpkg_root=(env PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg --root="$root" --log=/dev/null)
[ "$(id -u)" -eq 0 ] || dpkg_root+=(--force-not-root)
"${dpkg_root[@]}" -i "$deb" > "$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log"; fail "dpkg -i failed"; }
"${dpkg_root[@]}" -s fedc | grep -q "^Status: install ok installed" ||
  fail "fedc is not installed in the scratch root"

export PATH="$root/usr/bin:/usr/bin:/bin"
fedc --version | grep -q "^fedc $version " || fail "fedc --version: $(fedc --version)"
fedc --print-search-dirs > "$tmp/dirs"
grep -q "^modules: =$root/usr/share/fedc/stdlib\$" "$tmp/dirs" || fail "$(cat "$tmp/dirs")"
examples=$root/usr/share/doc/fedc/examples
mkdir "$tmp/work"
cd "$tmp/work"
fedc "$examples/fedavg.fed" -o fedavg
./fedavg --data "$examples/data/digits.csv.gz" --partition dirichlet:0.5 \
  --clients 10 --clients-per-round 5 --rounds 5 --seed 1 > out.json
grep -q eval_accuracy out.json || fail "fedavg printed: $(cat out.json)"

linker=$(sed -n 's/^linker: //p' "$tmp/dirs")
/usr/bin/python3 "$src/test/package/deb_depends.py" "$deb" "$root/usr/bin/fedc" \
  ./fedavg "$root/usr/lib/libfedrt.link" "$linker"

"${dpkg_root[@]}" -r fedc > "$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log"; fail "dpkg -r failed"; }
left=$(find "$root" -path "$root/var" -prune -o -type f -print | head -5)
[ -z "$left" ] || fail "dpkg -r left $left"
echo "deb test: ok"
