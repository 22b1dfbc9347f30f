"""`rawan export`: re-export a model version's ONNX graph from its saved torch weights, with the parity check."""

from __future__ import annotations

from rawan.commands.common import add_model_option, model_path


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="re-export ONNX (fp32) from a version's torch weights and check parity")
    p.add_argument("--output", default=None, help="file to write (default: MODEL/model.onnx, replaced atomically)")
    p.add_argument("--opset", type=int, default=17)
    add_model_option(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    import os
    from pathlib import Path

    import numpy as np

    from model.export import export_onnx, torch_probabilities
    from model.network import load_torch_classifier
    from model.runtime import Classifier
    from model.text import sigmoid
    from training.build import PARITY_TEXTS

    directory = model_path(args)
    target = Path(args.output) if args.output else directory / "model.onnx"
    tmp = target.with_name(target.name + ".tmp")
    model = load_torch_classifier(directory)
    export_onnx(model, tmp, opset=args.opset)
    clf = Classifier.load(directory, variant=str(tmp), regions=False)
    windows = [w for t in PARITY_TEXTS for w in clf.prepare(t).windows]
    onnx_p = sigmoid(np.stack([o[0] for o in clf.infer(windows)]))
    diff = float(np.abs(onnx_p - torch_probabilities(model, windows, clf.config.pad_id)).max())
    if diff > 1e-4:
        tmp.unlink()
        raise ValueError(f"parity check failed: max |p_onnx - p_torch| = {diff:.2e} > 1e-4")
    os.replace(tmp, target)
    if target == directory / "model.onnx" and (directory / "onnx").is_dir():
        # onnx/model.onnx may be a hard link to the replaced file: point it at the served file again
        from model.interop import link_served_onnx

        link_served_onnx(directory)
    print(f"wrote {target}; parity max |dp| = {diff:.2e}")
    return 0
