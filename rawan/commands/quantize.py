"""`rawan quantize`: build faster variants of a model version, gate them against fp32, serve the fastest that passes.

Runs on the machine that will serve (the choice depends on its CPU: AMX / avx512_bf16 / VNNI). See
`training/quant_gate.py` for the gate and its cost, `model/quantize.py` for the variants.
"""

from __future__ import annotations

import argparse

from rawan.commands.common import add_model_option, model_path


def add_parser(sub) -> None:
    from model.quantize import DEFAULT_VARIANTS, VARIANTS

    p = sub.add_parser("quantize", help="build int8/bf16/OpenVINO variants, gate them against fp32, serve the "
                                        "fastest that passes", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_option(p)
    p.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), metavar="NAME",
                   help=f"variants to try, from: {', '.join(VARIANTS)}")
    p.add_argument("--pool-size", type=int, default=1000,
                   help="articles in the agreement pool: all corpus articles plus synthetic concatenations")
    p.add_argument("--data", nargs="*", default=None, help="corpus JSONL files (default: training/corpus + seeds)")
    p.add_argument("--threads", type=int, default=0, help="inference threads (0: RAWAN_THREADS or all cores)")
    p.add_argument("--calibration-windows", type=int, default=128, help="real windows for static int8 ranges")
    p.add_argument("--no-switch", action="store_true",
                   help="measure and record only; leave classifier.json's served graph as it is")
    p.add_argument("--keep-files", action="store_true", help="keep the files of variants that failed the gate")
    p.set_defaults(handler=run)


def run(args) -> int:
    from training.data import load_corpus, read_jsonl
    from training.quant_gate import quantize_model

    if args.pool_size < 0:
        raise ValueError("--pool-size must be >= 0")
    directory = model_path(args)
    rows = [r for path in args.data for r in read_jsonl(path)] if args.data else load_corpus()
    record = quantize_model(directory, rows, variants=args.variants, pool_size=args.pool_size,
                            threads=args.threads or None, calibration_windows=args.calibration_windows,
                            switch=not args.no_switch, keep_files=args.keep_files)
    print()
    print(format_record(record))
    if not args.no_switch:
        print(f"\n{directory}: serving {record['served']}. A running server picks it up with "
              "POST /v1/admin/reload?force=true.")
    return 0


def format_record(record: dict) -> str:
    """One line per variant: gate figures, speed, and which one is served."""
    lines = [f"hardware: {record['hardware']}",
             f"pool: {record['pool']['articles']} articles ({record['pool']['synthetic']} synthetic), "
             f"{record['pool']['windows']} windows, {record['pool']['labelled']} labelled dev+test rows; "
             f"ORT fp32 {record['reference']['windows_per_s']:.1f} windows/s",
             f"{'variant':<18}{'gate':>7}{'agree %':>9}{'dF1 pt':>8}{'interval':>17}{'max|dp|':>9}{'batch':>9}"
             f"{'speed':>7}"]
    for name, rec in record["variants"].items():
        g = rec.get("gate")
        mark = "  <- served" if name == record["served"] else ""
        if not g:
            lines.append(f"{name:<18}{'skip':>7}  {rec.get('skipped', '')}")
            continue
        lo, hi = g["drop_interval_pt"]
        batch = g["batch_max_abs_dprob"]
        lines.append(f"{name:<18}{'pass' if rec.get('passed') else 'FAIL':>7}{100 * g['agreement']:>9.2f}"
                     f"{g['micro_f1_drop_pt']:>+8.2f}{f'[{lo:+.2f}, {hi:+.2f}]':>17}{g['max_abs_dprob']:>9.4f}"
                     f"{batch:>9.0e}{rec.get('speedup', 0):>6.2f}x{mark}")
    if record["served"] == "fp32":
        lines.append(f"{'fp32':<18}{'':>7}{'':>9}{'':>8}{'':>17}{'':>9}{'':>9}{1.0:>6.2f}x  <- served")
    lines.append(f"served: {record['served']} ({record['why']})")
    return "\n".join(lines)
