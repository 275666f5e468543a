"""Compute the nets' forward-pass known answers with their authors' own code; writes ``forward.json``.

Run by hand (pytest does not collect it), from the repository root, naming a local checkout of each
authors' repository whose answers should be (re)computed; a net whose checkout is not given keeps its
stored answer::

    python tests/kit/known_answers/compute.py --htnet ~/src/HTNet --offtanet ~/src/PRICAI2021-Off-TANet \
        --rcn ~/src/ParameterFreeRCNs-MicroExpressionRec --inceptr ~/src/IncepTR \
        --ststnet ~/src/STSTNet --meb ~/src/meb

Where each net's code comes from (repository, commit, file, definition):

- HTNet: wangzhifengharrison/HTNet 91cf4bd, ``Model.py``, ``HTNet`` (needs ``einops``).
- Off-TANet: ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet b6149ba, ``models/off_tanet.py``,
  ``OffTANet(net_type='ta')``; OFF-ApexNet from the same commit, ``models/off_apexnet.py``, ``OffApexNet``
  (OFF-ApexNet's authors published no code; this is a third-party reconstruction, the one whose layers
  the card describes).
- RCN-A, -S, -W, -P, -C, -F: xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec 0c516cb, ``MeNets.py``,
  ``RCN_A`` … ``RCN_F`` with num_input 3, featuremaps 64, pool_size 5. ``RCN_P`` and ``RCN_F`` call
  ``super(RCN_H, self)`` and ``super(RCN_E, self)``, names the file never defines; the script binds those
  two names to the classes themselves so that they build (nothing else of the file is changed).
- IncepTR: HaoliangZhou/IncepTR 0ba9ed7, ``model/DualATTNet.py``, ``DualATTNet(in_channels=3, num_classes=3)``
  with ``model/Inception_module.py``, ``model/CBAM_module.py``, ``model/PC_module.py`` (needs ``timm`` and
  ``torchvision``; its ``Resize`` antialiases tensors from torchvision 0.17 on). The forward pass hard-codes
  512 ViT channels, so the case keeps them; the fusion layers (``conv1x1_pc``, ``conv1x1_sca``, ``fc``) are
  replaced by layers of the same kinds narrowed to the case's ``fusion_channels`` and ``hidden``.
- STSTNet: christy1206/STSTNet 1afb56e, ``main.py``, ``STSTNet(in_channels=3, out_channels=3)``.
- SSSNet: tvaranka/meb f731b0a, ``meb/models/me_networks.py``, ``SSSNet(num_classes=3)``.

Not here: Dual-Inception (the authors' code is Keras, xly135846/MEGC2019), VGG-M and AlexNet (a port
and torchvision's own definition, which the net calls directly), the pyramid nets (no authors' code).

For each case of ``nets.py`` the script builds the mebench net (seeded), copies its state into the
authors' module under an explicit name map (``strict`` loading: every tensor of both sides is mapped),
runs both on the case's inputs in evaluation mode and float64, and stores the authors' logits, the
projections of the case's probes (inner outputs: Off-TANet's self-attention, IncepTR's two branch
maps) from the authors' corresponding modules, and the mebench net's own output sum as a sanity value.
It also records how the authors' code initialises each parameter: their module is built under the
case's weight seed, and the size, mean and standard deviation of each of its fresh parameters are
stored under the mebench parameter mapped onto it. A case whose two outputs differ by more than 1e-9
is reported and not written.

Only the imports, classes, functions and top-level assignments of each authors' file are executed, so
their scripts' training and plotting code never runs; an import of a package that is not installed
(``torchstat``, ``torchsummary``: used only by those scripts) is left out and named. Nothing of their
code is copied into this repository; only the numbers are.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.kit.known_answers.nets import ANSWERS, CASES, build, load_answers, run  # noqa: E402

AGREEMENT = 1e-9


def load_definitions(path: Path, search_path: Path | None = None) -> dict:
    """The top-level classes, functions and assignments of ``path`` executed in a fresh namespace, with
    the file's imports that succeed (an import of a package that is not installed is left out, and a
    definition that needs it fails when called)."""
    if search_path is not None and str(search_path) not in sys.path:
        sys.path.insert(0, str(search_path))
    tree = ast.parse(path.read_text(), filename=str(path))
    namespace: dict = {"__name__": f"authors_{path.stem}"}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            try:
                exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
            except ImportError as error:
                print(f"  {path.name}: left out {ast.unparse(node)!r} ({error})")
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.Assign)):
            exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
    return namespace


def renamed(state: dict, rules: list[tuple[str, str]]) -> dict:
    """``state`` with each key rewritten by the first rule (a regular expression and its replacement) that
    matches it; keys no rule matches keep their name."""
    out = {}
    for key, value in state.items():
        for pattern, replacement in rules:
            if re.fullmatch(pattern, key):
                key = re.sub(pattern, replacement, key)
                break
        out[key] = value
    return out


# --- HTNet ------------------------------------------------------------------------------------------

HTNET_RULES = [
    (r"to_patch_embedding\.(weight|bias)", r"to_patch_embedding.1.\1"),
    (r"(layers\.\d+\.0\.layers\.\d+\.1)\.fn\.(\d+)\.(weight|bias)", r"\1.fn.net.\2.\3"),
    (r"mlp_head\.1\.(weight|bias)", r"mlp_head.2.\1"),
]


def htnet_authors(checkouts, case, model):
    code = load_definitions(checkouts["htnet"] / "Model.py")
    options = {**{o.name: o.default for o in spec_options(case)}, **case.options}
    authors = code["HTNet"](image_size=case.shape[1], patch_size=options["patch_size"], num_classes=3,
                            dim=options["dim"], heads=options["heads"], num_hierarchies=options["num_hierarchies"],
                            block_repeats=tuple(int(r) for r in options["block_repeats"].split(",")),
                            mlp_mult=options["mlp_mult"], channels=case.shape[0], dropout=options["dropout"])
    return authors, renamed(model.state_dict(), HTNET_RULES)


# --- Off-TANet and OFF-ApexNet ----------------------------------------------------------------------

def offtanet_authors(checkouts, case, model):
    code = load_definitions(checkouts["offtanet"] / "models" / "off_tanet.py")
    authors = code["OffTANet"](net_type="ta")
    for block in authors.eres.sa.sa_blocks:  # a plain float32 attribute (not a buffer) in their code
        block.pos_code = block.pos_code.double()
    rules = [
        (r"stem\.(.*)", r"conv1.\1"),
        (r"stages\.0\.body\.(.*)", r"res1.conv.\1"), (r"stages\.0\.shortcut\.(.*)", r"res1.botneck.\1"),
        (r"stages\.1\.body\.(.*)", r"res2.conv.\1"), (r"stages\.1\.shortcut\.(.*)", r"res2.botneck.\1"),
        (r"stages\.2\.conv1\.(.*)", r"eres.conv1.\1"), (r"stages\.2\.conv2\.(.*)", r"eres.conv2.\1"),
        (r"stages\.2\.shortcut\.(.*)", r"eres.botneck.\1"),
        (r"stages\.2\.channel\.mlp\.0\.(.*)", r"eres.ca.fc1.\1"),
        (r"stages\.2\.channel\.mlp\.2\.(.*)", r"eres.ca.fc2.\1"),
        (r"stages\.2\.spatial\.conv\.(.*)", r"eres.spa.conv1.\1"),
        (r"classifier\.1\.(.*)", r"dense.0.\1"), (r"classifier\.4\.(.*)", r"dense.3.\1"),
        (r"classifier\.7\.(.*)", r"dense.6.\1"),
    ]
    state = renamed(model.state_dict(), rules)
    # the four heads' 1×1 projections (28 → 7 each) are the rows of mebench's one 28 → 28 convolution
    heads = len(authors.eres.sa.sa_blocks)
    for ours, theirs in (("query", "w_q"), ("key", "w_k"), ("value", "w_v")):
        for kind in ("weight", "bias"):
            tensor = state.pop(f"stages.2.attention.{ours}.{kind}")
            for head, rows in enumerate(tensor.chunk(heads, dim=0)):
                state[f"eres.sa.sa_blocks.{head}.{theirs}.{kind}"] = rows
    return authors, state


def offapexnet_authors(checkouts, case, model):
    code = load_definitions(checkouts["offtanet"] / "models" / "off_apexnet.py")
    rules = [(r"streams\.0\.0\.(.*)", r"cnn1.conv1.\1"), (r"streams\.0\.3\.(.*)", r"cnn1.conv2.\1"),
             (r"streams\.1\.0\.(.*)", r"cnn2.conv1.\1"), (r"streams\.1\.3\.(.*)", r"cnn2.conv2.\1"),
             (r"classifier\.(.*)", r"dense.\1")]
    return code["OffApexNet"](), renamed(model.state_dict(), rules)


# --- RCN --------------------------------------------------------------------------------------------

def rcn_authors(checkouts, case, model):
    code = load_definitions(checkouts["rcn"] / "MeNets.py")
    code["RCN_H"], code["RCN_E"] = code["RCN_P"], code["RCN_F"]  # the names their super() calls use
    options = {**{o.name: o.default for o in spec_options(case)}, **case.options}
    cls = code["RCN_" + case.model.split("-")[1].upper()]
    authors = cls(num_input=case.shape[0], featuremaps=options["featuremaps"], num_classes=3,
                  num_layers=options["num_layers"], pool_size=options["pool_size"])
    rules = [(r"streams\.0\.(.*)", r"stream1.\1"), (r"streams\.1\.(.*)", r"stream2.\1"),
             (r"streams\.2\.(.*)", r"stream3.\1")]
    return authors, renamed(model.state_dict(), rules)


# --- IncepTR ----------------------------------------------------------------------------------------

INCEPTR_RULES = [
    (r"incep_sca\.(\d)\.branches\.0\.(.*)", r"incep_sca.\1.branch1x1.\2"),
    (r"incep_sca\.(\d)\.branches\.1\.(.*)", r"incep_sca.\1.branch3x3.\2"),
    (r"incep_sca\.(\d)\.branches\.2\.(.*)", r"incep_sca.\1.branch5x5.\2"),
    (r"incep_sca\.(\d)\.branches\.3\.(.*)", r"incep_sca.\1.branch_pool.\2"),
    (r"incep_sca\.3\.shared_mlp\.(.*)", r"incep_sca.3.shared_MLP.\1"),
    (r"incep_sca\.3\.spatial\.(.*)", r"incep_sca.3.conv2d.\1"),
    (r"vit_pos\.patch_embed\.(.*)", r"vit_pos.patch_embed.proj.\1"),
    (r"vit_pos\.blocks\.(\d)\.mlp\.0\.(.*)", r"vit_pos.blocks.\1.mlp.fc1.\2"),
    (r"vit_pos\.blocks\.(\d)\.mlp\.2\.(.*)", r"vit_pos.blocks.\1.mlp.fc2.\2"),
    (r"vit_pos\.to_mask\.(.*)", r"vit_pos.to_Mask.\1"),
    (r"fc\.1\.(.*)", r"fc.0.\1"), (r"fc\.4\.(.*)", r"fc.3.\1"),
]


def inceptr_authors(checkouts, case, model):
    root = checkouts["inceptr"]
    code = load_definitions(root / "model" / "DualATTNet.py", search_path=root)
    authors = code["DualATTNet"](in_channels=3, num_classes=3)
    fusion, hidden = model.conv1x1_pc.out_channels, model.fc[1].out_features
    authors.conv1x1_pc = nn.Conv2d(512, fusion, kernel_size=1)
    authors.conv1x1_sca = nn.Conv2d(48, fusion, kernel_size=1)
    authors.fc = nn.Sequential(nn.Linear(14 * 14 * 2 * fusion, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
                               nn.Linear(hidden, 3))
    return authors, renamed(model.state_dict(), INCEPTR_RULES)


# --- STSTNet and SSSNet -----------------------------------------------------------------------------

def ststnet_authors(checkouts, case, model):
    code = load_definitions(checkouts["ststnet"] / "main.py")
    rules = [(r"streams\.0\.0\.(.*)", r"conv1.\1"), (r"streams\.1\.0\.(.*)", r"conv2.\1"),
             (r"streams\.2\.0\.(.*)", r"conv3.\1"), (r"streams\.0\.2\.(.*)", r"bn1.\1"),
             (r"streams\.1\.2\.(.*)", r"bn2.\1"), (r"streams\.2\.2\.(.*)", r"bn3.\1")]
    return code["STSTNet"](in_channels=3, out_channels=3), renamed(model.state_dict(), rules)


def sssnet_authors(checkouts, case, model):
    code = load_definitions(checkouts["meb"] / "meb" / "models" / "me_networks.py")
    rules = [(r"features\.0\.(.*)", r"conv1.\1"), (r"features\.3\.(.*)", r"bn1.\1"),
             (r"features\.5\.(.*)", r"conv2.\1"), (r"features\.8\.(.*)", r"bn2.\1"),
             (r"classifier\.1\.(.*)", r"fc1.\1"), (r"classifier\.4\.(.*)", r"fc.\1")]
    return code["SSSNet"](num_classes=3), renamed(model.state_dict(), rules)


#: case-name prefix → (checkout option, builder of the authors' module and the state mapped onto it)
AUTHORS = {
    "htnet": ("htnet", htnet_authors), "offtanet": ("offtanet", offtanet_authors),
    "offapexnet": ("offtanet", offapexnet_authors), "rcn": ("rcn", rcn_authors),
    "inceptr": ("inceptr", inceptr_authors), "ststnet": ("ststnet", ststnet_authors),
    "sssnet": ("meb", sssnet_authors),
}


def spec_options(case):
    from tests.kit.known_answers.nets import spec

    return spec(case).options or ()


#: probe (a module of the mebench net) → the authors' module whose output is the same tensor
AUTHORS_PROBES = {
    "offtanet": {"stages.2.attention": "eres.sa"},
    "inceptr": {"conv1x1_pc": "conv1x1_pc", "conv1x1_sca": "conv1x1_sca"},
}


def initialisation(authors: nn.Module, state: dict, model: nn.Module) -> dict:
    """``[numel, mean, std]`` of each parameter of the authors' freshly built module, under the name of the
    mebench parameter that ``state`` (the mebench net's state in the authors' names) puts in its place;
    a mebench tensor split over several of theirs (Off-TANet's heads) is left out."""
    ours = {key: value for key, value in model.state_dict().items()}
    parameters = dict(authors.named_parameters())
    stats = {}
    for their_key, tensor in state.items():
        if their_key not in parameters:
            continue  # a buffer: the running statistics are the case's own
        for our_key, value in ours.items():
            if value.data_ptr() == tensor.data_ptr() and value.shape == tensor.shape:
                fresh = parameters[their_key].detach().double()
                stats[our_key] = [fresh.numel(), fresh.mean().item(), fresh.std().item() if fresh.numel() > 1 else 0.0]
    return stats


def answer(case, checkouts) -> dict | None:
    _, authors_of = AUTHORS[case.name.split("-")[0]]
    model = build(case)
    torch.manual_seed(case.weight_seed)  # the authors' module is built, and initialised by their code, here
    authors, state = authors_of(checkouts, case, model)
    fresh = initialisation(authors, state, model)
    authors.load_state_dict(state, strict=True)
    authors = authors.double().eval()
    ours, our_probes = run(model, case)
    theirs, their_probes = run(authors, case, AUTHORS_PROBES.get(case.name, {}))
    if isinstance(theirs, tuple):  # DualATTNet returns (global map, local map, logits)
        theirs = theirs[-1]
    gaps = {"logits": (ours - theirs).abs().max().item()}
    for probe in case.probes:
        gaps[probe] = (torch.tensor(our_probes[probe]) - torch.tensor(their_probes[probe])).abs().max().item()
    print(f"{case.name}: max |mebench − authors| " + ", ".join(f"{k} {v:.3g}" for k, v in gaps.items())
          + f"; initialisation of {len(fresh)} parameters recorded")
    if max(gaps.values()) > AGREEMENT:
        print(f"  MISMATCH: mebench {ours.tolist()} {our_probes}\n           authors {theirs.tolist()} {their_probes}")
        return None
    return {**case.describe(), "logits": theirs.tolist(), "probe_projections": their_probes,
            "mebench_sum": ours.sum().item(), "authors_initialisation": fresh}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("htnet", "offtanet", "rcn", "inceptr", "ststnet", "meb"):
        parser.add_argument(f"--{name}", type=Path, help=f"a local checkout of the {name} authors' repository")
    parser.add_argument("--only", nargs="*", help="case names to compute (default: every case whose code is given)")
    args = parser.parse_args()
    checkouts = {name: path.expanduser() for name, path in vars(args).items() if name != "only" and path}
    answers = load_answers()
    failed = []
    for case in CASES:
        checkout = AUTHORS[case.name.split("-")[0]][0]
        if checkout not in checkouts or (args.only and case.name not in args.only):
            continue
        result = answer(case, checkouts)
        if result is None:
            failed.append(case.name)
        else:
            answers[case.name] = result
    ANSWERS.write_text(json.dumps(answers, indent=1) + "\n")
    print(f"wrote {ANSWERS}" + (f"; not written (mismatch): {', '.join(failed)}" if failed else ""))


if __name__ == "__main__":
    main()
