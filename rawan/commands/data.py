"""`rawan data check`: validate the annotated corpus and print its statistics."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="corpus tools: `rawan data check`")
    p.add_argument("action", choices=["check"])
    p.add_argument("files", nargs="*", help="corpus JSONL files (default: training/corpus/written + seeds)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from training.corpus_check import check_corpus, format_result
    from training.data import load_corpus, load_seeds, read_jsonl

    rows = [r for f in args.files for r in read_jsonl(f)] + load_seeds() if args.files else load_corpus()
    result = check_corpus(rows)
    print(format_result(result))
    return 0 if result.ok else 1
