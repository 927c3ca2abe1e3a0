"""`transfer-studio library`: list, import, verify, remove and scan the offline model library."""
from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    p.set_defaults(verify=False, json=False)
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("list", help="list the entries (default)")
    ls.add_argument("--verify", action="store_true", help="re-hash every file")
    ls.add_argument("--json", action="store_true")
    imp = sub.add_parser("import", help="import a weights file, a Hugging Face folder or a model pack")
    imp.add_argument("path")
    imp.add_argument("--as", dest="backbone", metavar="BACKBONE_ID",
                     help="registry id the weights are for (default: guessed from the names)")
    imp.add_argument("--replace", action="store_true", help="replace an entry already in the library")
    imp.add_argument("--license", help="licence of the weights (default: the registry entry's)")
    ver = sub.add_parser("verify", help="re-hash the files of some (default all) entries")
    ver.add_argument("ids", nargs="*")
    rm = sub.add_parser("remove", help="delete an entry")
    rm.add_argument("id")
    sc = sub.add_parser("scan", help="look for weights in the torch hub and Hugging Face caches")
    sc.add_argument("--json", action="store_true")
    sub.add_parser("path", help="print the library folder")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _print_rows(rows: list[dict]) -> None:
    if not rows:
        print("The model library is empty.")
        return
    for r in rows:
        status = {True: "hashes OK", False: "DAMAGED", None: "not verified"}[r["hashes_ok"]]
        print(f"{r['id']:<24} {_size(r['size_bytes']):>9}  {r['license'][:30]:<30}  {r['source'][:40]:<40}  "
              f"{r['imported_at'][:10]}  {status}")
        if r.get("problem"):
            print(f"    problem: {r['problem']}")


def run(a) -> int:
    from engine.offline import enforce_offline_env

    enforce_offline_env()
    import engine.library as lib

    a.action = a.action or "list"
    if a.action == "path":
        print(lib.library_root())
        return 0
    if a.action == "list":
        lib.ensure_starters()
        rows = lib.list_items(verify=a.verify)
        print(json.dumps(rows, indent=2)) if a.json else _print_rows(rows)
        return 1 if any(r["problem"] for r in rows) else 0
    if a.action == "import":
        result = lib.import_path(a.path, a.backbone, replace=a.replace, license=a.license)
        for e in result["entries"]:
            print(f"imported {e['id']} into {lib.library_root() / e['id']} ({len(e['files'])} file(s), sha256 recorded)")
        for s in result["skipped"]:
            print(f"skipped {s['id']}: {s['reason']}")
        return 0
    if a.action == "verify":
        problems = lib.verify(a.ids or None)
        for entry_id, problem in problems.items():
            print(f"{entry_id}: {problem or 'hashes OK'}")
        return 1 if any(problems.values()) else 0
    if a.action == "remove":
        lib.remove(a.id)
        print(f"removed {a.id} from the model library")
        return 0
    if a.action == "scan":
        found = lib.scan_caches()
        if a.json:
            print(json.dumps(found, indent=2))
        elif not found:
            print("No weights found in the torch hub or Hugging Face caches.")
        for f in [] if a.json else found:
            guess = f["backbone"] or "unknown backbone"
            note = " (already in library)" if f["in_library"] else ""
            print(f"{f['kind']:<16} {guess:<24} {_size(f['size_bytes']):>9}  {f['path']}{note}")
        return 0
    print(f"unknown action {a.action}", file=sys.stderr)
    return 2
