"""`rawan batch`: score archives (JSONL, CSV, Parquet, .txt directories) into Parquet/JSONL parts, resumably."""

from __future__ import annotations

import json
import sys

from model.runtime import DEFAULT_TOKEN_BUDGET
from rawan.commands.common import add_model_option

EXIT_BAD_ROWS = 3  # the job finished, but some input rows could not be scored (see OUT/errors/)


def add_parser(sub) -> None:
    p = sub.add_parser("batch", help="score archives of articles into Parquet/JSONL (local or Ray Data)",
                       description="Score every article of INPUT files into --output. Exit status 0: all rows "
                                   f"scored; {EXIT_BAD_ROWS}: finished with bad rows (listed in OUT/errors/); "
                                   "2: usage error.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="JSONL/CSV/Parquet files (.gz allowed), globs, or directories of them or of .txt files")
    p.add_argument("--output", "-o", required=True, help="output directory (parts, errors/, _summary.json)")
    p.add_argument("--format", choices=["parquet", "jsonl"], default="parquet", help="output format")
    p.add_argument("--input-format", choices=["jsonl", "csv", "parquet", "txt"], default=None,
                   help="force the input format (default: from each file's suffix)")
    p.add_argument("--id-column", default="id")
    p.add_argument("--text-column", default="text")
    p.add_argument("--title-column", default="title", help="used when present; '' to ignore titles")
    p.add_argument("--resume", action="store_true", help="continue OUT: skip ids already committed there")
    p.add_argument("--dedupe-text", action="store_true",
                   help="score each distinct text once; copies get a row with duplicate_of and no scores")
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=int, default=1, help="local engine: ONNX worker threads (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="ONNX intra-op threads per worker (default: cores / workers) or per Ray actor (default 1)")
    p.add_argument("--chunk-size", type=int, default=32, help="articles per ONNX work item")
    p.add_argument("--part-rows", type=int, default=2000, help="local engine: rows per committed part")
    p.add_argument("--token-budget", type=int, default=DEFAULT_TOKEN_BUDGET, help="padded tokens per ONNX call")
    p.add_argument("--no-regions", action="store_true", help="skip region tagging")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--ray-actors", type=int, default=None,
                   help="Ray engine: scoring actors (default: cluster CPUs / threads)")
    p.add_argument("--ray-cpus", type=int, default=None,
                   help="Ray engine: CPUs of the local cluster started when RAY_ADDRESS is unset")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    add_model_option(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    from rawan.commands.common import model_path
    from serve.batch import Columns, format_summary, score_files

    summary = score_files(
        args.inputs, args.output, model=model_path(args), engine=args.engine, output_format=args.format,
        columns=Columns(args.id_column, args.text_column, args.title_column or None),
        input_format=args.input_format, resume=args.resume, dedupe_text=args.dedupe_text, workers=args.workers,
        threads=args.threads, chunk_size=args.chunk_size, part_rows=args.part_rows, token_budget=args.token_budget,
        regions=not args.no_regions, progress=not args.no_progress, ray_actors=args.ray_actors,
        ray_cpus=args.ray_cpus)
    if args.json:
        json.dump(summary, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    print(format_summary(summary, summary["run"]), file=sys.stderr)
    return EXIT_BAD_ROWS if summary["bad_rows"] else 0
