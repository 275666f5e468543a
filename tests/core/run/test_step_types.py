"""Typed preprocessing steps: each step declares the item keys it needs and gives and the notes it may
record; ``build_chain`` refuses a chain in the wrong order at planning, in one line; the run keeps and
summarises the declared notes, whoever declares them."""

from __future__ import annotations

import dataclasses
import json
import types

import numpy as np
import pytest

from mebench import hookimpl
from mebench.api import ConfigError, ModelSpec, PreprocessingStep, PreprocessorSpec, SampleNote
from mebench.run.plan import plan_run
from mebench.run.preprocessing import build_chain, note_warnings, prepare, process_sample, summarise_notes
from mebench.registry import discover
from mebench_plugins.datasets.synthetic import load_synthetic
from mebench_plugins.preprocessors import landmarks
from mebench_plugins.preprocessors.items import ITEM_KEYS
from tests.conftest import TINY_CHAIN, TINY_DATASET, TINY_INPUT, TinyNet, tiny_config, tiny_registry

REGISTRY = discover()
MODELS = [name for name in REGISTRY.models.names() if REGISTRY.models.get(name).preprocessing]  # a spotter has none


@pytest.fixture
def detector(monkeypatch):
    """The mtcnn landmark source replaced by a stub (facenet-pytorch is optional): a face in every other call."""
    calls = []

    def load():
        def detect(image):
            calls.append(image)
            return np.full((5, 2), 12.0) if len(calls) % 2 else None
        return detect

    monkeypatch.setitem(landmarks.DETECTORS, "mtcnn", landmarks.LandmarkDetector(load))
    monkeypatch.setattr(landmarks, "_loaded", {})
    return calls


@pytest.mark.parametrize("model", MODELS)
def test_every_registered_models_chain_passes_the_order_check(model, detector):
    spec = REGISTRY.models.get(model)
    chain = build_chain(REGISTRY, spec.preprocessing, f"model {model!r}")
    assert [step.name for step in chain] == [ref if isinstance(ref, str) else ref[0] for ref in spec.preprocessing]


def test_every_built_in_step_declares_its_keys_in_the_vocabulary_and_every_key_has_a_maker():
    """One vocabulary: no built-in step uses a key it does not list, and it lists no key that no step makes."""
    used, made = set(), {"sample"}
    for name in REGISTRY.preprocessors.names():
        step = REGISTRY.preprocessors.get(name).factory
        assert step.needs is not None and step.gives is not None, f"{name} declares no needs/gives"
        keys = {*step.needs, *step.gives, *(note.key for note in step.notes)}
        assert keys <= set(ITEM_KEYS), f"{name}: {sorted(keys - set(ITEM_KEYS))} not in ITEM_KEYS"
        used |= keys
        made |= {*step.gives, *(note.key for note in step.notes)}
    assert used == set(ITEM_KEYS) == made


class RecordingItem(dict):
    """An item dict that records the keys a step reads, probes (``in``) and writes."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read, self.probed, self.written = set(), set(), set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        self.probed.add(key)
        return super().__contains__(key)

    def __setitem__(self, key, value):
        self.written.add(key)
        super().__setitem__(key, value)

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


def distinct_chains():
    chains = {}
    for model in MODELS:
        chain = REGISTRY.models.get(model).preprocessing
        chains.setdefault(repr(chain), (chain, model))
    return sorted(chains.values(), key=lambda chain_model: chain_model[1])


@pytest.mark.parametrize("chain, model", distinct_chains(), ids=[model for _, model in distinct_chains()])
def test_every_built_in_step_reads_and_writes_only_what_it_declares(chain, model, detector, monkeypatch):
    """The declarations are true: run on a cropped sample, an uncropped one where no face is found (the cartoon
    frames) and one where a face is found, each step reads only what it needs (or first probes for), leaves what
    it gives, and writes nothing beyond what it gives and the notes it declares."""
    from mebench_plugins.preprocessors import optical_flow, sequences

    sample = load_synthetic(subjects=1, clips_per_subject=1, size=48)[0]
    for copy, box in ((sample, None), (dataclasses.replace(sample, cropped=False), None),
                      (dataclasses.replace(sample, cropped=False), (4, 44, 4, 44))):
        for module in (optical_flow, sequences):
            monkeypatch.setattr(module, "face_box", lambda frame, *args, box=box: box)
        item = {"sample": copy}
        for step in build_chain(REGISTRY, chain, f"model {model!r}"):
            recording = RecordingItem(item)
            item = step(recording)
            notes = {note.key for note in step.notes}
            assert recording.read - recording.probed <= set(step.needs), (step.name, recording.read)
            assert set(step.gives) <= set(item), (step.name, sorted(item))
            assert recording.written <= set(step.gives) | notes, (step.name, recording.written)
            item = dict(item)
        assert item["image"].dtype == np.float32


def makers(key: str) -> str:
    """The registered steps that make ``key`` (give it without needing it), as the refusal lists them."""
    factories = {name: REGISTRY.preprocessors.get(name).factory for name in REGISTRY.preprocessors.names()}
    return ", ".join(name for name, step in factories.items() if key in step.gives and key not in step.needs)


@pytest.mark.parametrize("chain, line", [
    (("tvl1_flow", "apex_frame", "optical_strain", "flow_stack"),
     "model 'x': preprocessing step 'tvl1_flow' needs 'onset_frame', which no step before it gives; 'apex_frame' "
     "gives it: put it before 'tvl1_flow'"),
    (("apex_frame", "bi_woof", "tvl1_flow", "optical_strain"),
     "model 'x': preprocessing step 'bi_woof' needs 'flow', which no step before it gives; 'tvl1_flow' gives it: put "
     "it before 'bi_woof'"),
    (("apex_frame", "optical_strain", "flow_stack"),
     "model 'x': preprocessing step 'optical_strain' needs 'flow', which no step before it gives; add a step that "
     f"gives it ({makers('flow')}) before 'optical_strain'"),
    (("grey_sequence", "tim", "htnet_patches"),
     "model 'x': preprocessing step 'htnet_patches' needs 'image', which no step before it gives; add a step that "
     f"gives it ({makers('image')}) before 'htnet_patches'"),
    (("apex_frame", "tvl1_flow", "optical_strain"),
     "model 'x': the preprocessing chain ends without 'image', the model input; add a step that gives it "
     f"({makers('image')}) at its end"),
])
def test_a_chain_in_the_wrong_order_is_refused_at_build_chain_in_one_line(chain, line):
    assert makers("flow") == "tvl1_flow" and "flow_stack" in makers("image") and "htnet_patches" not in makers("image")
    with pytest.raises(ConfigError) as refused:
        build_chain(REGISTRY, chain, "model 'x'")
    assert str(refused.value) == line


def model_plugin(name: str, chain, *steps: PreprocessorSpec) -> types.ModuleType:
    """A plugin registering the tiny net as model ``name`` over ``chain``, and the preprocessing ``steps``."""
    module = types.ModuleType(f"{name}_plugin")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name=name, factory=lambda num_classes, input_spec, **kw: TinyNet(num_classes, input_spec),
                           input_spec=TINY_INPUT, preprocessing=chain, description="the tiny net, another chain"))

    @hookimpl
    def mebench_register_preprocessors(register):
        for spec in steps:
            register(spec)

    module.mebench_register_models, module.mebench_register_preprocessors = (mebench_register_models,
                                                                             mebench_register_preprocessors)
    return module


def test_a_model_whose_chain_is_in_the_wrong_order_is_refused_at_planning_before_anything_is_written(tmp_path):
    from mebench.run.runner import run

    registry = tiny_registry(model_plugin("misordered", ("apex_frame", "flow_stack", ("tvl1_flow", {"size": 0}))))
    line = ("model 'misordered': preprocessing step 'flow_stack' needs 'flow', which no step before it gives; "
            "'tvl1_flow' gives it: put it before 'flow_stack'")
    with pytest.raises(ConfigError) as refused:
        plan_run(tiny_config(model="misordered"), registry)
    assert str(refused.value) == line
    with pytest.raises(ConfigError, match="^model 'misordered': preprocessing step 'flow_stack' needs 'flow'"):
        run(tiny_config(model="misordered"), registry, output_dir=tmp_path / "results", cache_dir=tmp_path / "cache",
            progress=False, workers=1, log=lambda line: None)
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


class ConstantFlow(PreprocessingStep):
    """A third-party step written before steps declared anything: it sets a flow of ones."""

    name = "constant_flow"

    def __call__(self, item):
        onset = item["onset_frame"]
        item["flow"] = np.ones((*onset.shape[:2], 2), dtype=np.float32)
        return item


class DuckFlowStack:
    """A step that is not even a PreprocessingStep: a name, a config and a call."""

    name, config = "duck_stack", {}

    def __call__(self, item):
        item["image"] = 2 * item["flow"]
        return item


def test_a_third_party_step_that_declares_nothing_still_builds_and_runs():
    registry = tiny_registry(model_plugin("third", (), PreprocessorSpec("constant_flow", ConstantFlow),
                                          PreprocessorSpec("duck_stack", DuckFlowStack)))
    sample = load_synthetic(subjects=1, clips_per_subject=1, size=48)[0]
    for chain, value in ((("apex_frame", "constant_flow", ("flow_stack", {"channels": "u,v"})), 1.0),
                         (("apex_frame", "constant_flow", "duck_stack"), 2.0),
                         (("constant_flow", "apex_frame", "flow_stack"), None)):  # undeclared: any key after it
        built = build_chain(registry, chain, "model 'third'")
        if value is not None:
            tensor = process_sample(sample, built, dataclasses.replace(TINY_INPUT, channels=2))
            assert np.array_equal(tensor, np.full((2, 16, 16), value, dtype=np.float32))


class OneKeyStack(PreprocessingStep):
    """A step that declares its one key without a tuple (``("flow")`` is the string ``"flow"``)."""

    name = "one_key_stack"
    needs, gives = ("flow"), ("image")

    def __call__(self, item):
        item["image"] = item["flow"]
        return item


def test_a_key_declared_without_its_tuple_is_that_key_not_its_letters():
    registry = tiny_registry(model_plugin("one-key", (), PreprocessorSpec("one_key_stack", OneKeyStack)))
    with pytest.raises(ConfigError, match=r"^model 'x': preprocessing step 'one_key_stack' needs 'flow', which no step "
                                          r"before it gives; 'tvl1_flow' gives it: put it before 'one_key_stack'$"):
        build_chain(registry, ("apex_frame", "one_key_stack", "tvl1_flow"), "model 'x'")
    assert [step.name for step in build_chain(registry, ("apex_frame", "tvl1_flow", "one_key_stack"), "model 'x'")] \
        == ["apex_frame", "tvl1_flow", "one_key_stack"]  # and it gives 'image', not 'i', 'm', …


class MarkSubject(PreprocessingStep):
    """A third-party step that declares a note: whether the sample is of subject s02 (and a key it does not keep)."""

    name = "mark_subject"
    needs = gives = ("image",)
    notes = (SampleNote("of_s02", "a clip of subject s02", summary="s02_samples", form="samples",
                        warning="{count} of {samples} samples are of subject s02 (e.g. {first})"),
             SampleNote("s02_seen", "whether s02 was looked for", summary="s02_checked", form="outcomes",
                        outcomes=("other", "s02")))

    def __call__(self, item):
        item["of_s02"] = item["s02_seen"] = item["sample"].subject.endswith("/s02")
        item["scratch"] = "not declared, not kept"
        return item


def test_a_declared_note_is_kept_per_sample_summarised_in_run_json_and_warned_about(tmp_path):
    from mebench.run.runner import run

    registry = tiny_registry(model_plugin("marking", TINY_CHAIN + ("mark_subject",),
                                          PreprocessorSpec("mark_subject", MarkSubject)))
    samples = load_synthetic(**TINY_DATASET)
    s02 = sorted(s.id for s in samples if s.subject == "synthetic/s02")
    assert len(s02) == 4

    chain = build_chain(registry, TINY_CHAIN + ("mark_subject",), "model 'marking'")
    data = prepare(samples, chain, TINY_INPUT, cache_dir=tmp_path / "cache", workers=1, progress=False)
    assert data.notes == {s.id: {"apex_index": s.apex, "of_s02": s.id in s02, "s02_seen": s.id in s02}
                          for s in samples}  # apex_frame's note and this step's; "scratch" is not kept
    again = prepare(samples, chain, TINY_INPUT, cache_dir=tmp_path / "cache", workers=1, progress=False)
    assert again.notes == data.notes  # read back from the cache

    lines = []
    outcome = run(tiny_config(model="marking"), registry, output_dir=tmp_path / "results", cache_dir=tmp_path / "cache",
                  progress=False, workers=1, log=lines.append)
    face_crop = json.loads((outcome.run_dir / "run.json").read_text())["face_crop"]
    assert face_crop == {"uncropped_samples": 0, "s02_samples": s02,
                         "s02_checked": {"other": 8, "s02": 4, "s02_samples": s02}}
    assert f"warning: 4 of 12 samples are of subject s02 (e.g. {s02[0]})" in lines


def test_the_face_notes_reach_run_json_and_the_warning_line_as_before(tmp_path, detector):
    """face_crop's and htnet_patches' notes, summarised as run.json always had them: cropped, no_face_found,
    landmarks (detected, fallback, fallback_samples), and the one warning line for faces not found."""
    samples = [dataclasses.replace(s, cropped=False) for s in load_synthetic(subjects=2, clips_per_subject=2, size=48)]
    chain = build_chain(REGISTRY, ("apex_frame", ("face_crop", {"when": "auto", "on_miss": "keep"}),
                                   ("tvl1_flow", {"size": 0}), "optical_strain", "flow_stack",
                                   ("htnet_patches", {"landmarks": "mtcnn", "grid": 16})), "model 'x'")
    data = prepare(samples, chain, TINY_INPUT, workers=1, progress=False)
    ids = sorted(s.id for s in samples)
    detected = sorted(s.id for i, s in enumerate(samples) if i % 2 == 0)  # the stub finds a face in every other call
    fallback = sorted(set(ids) - set(detected))
    summary = summarise_notes(chain, data.notes)
    assert summary == {"cropped": 0, "no_face_found": ids,  # cartoon faces: the cascade finds none
                       "landmarks": {"detected": 2, "fallback": 2, "fallback_samples": fallback}}
    assert list(summary) == ["cropped", "no_face_found", "landmarks"]  # run.json's order
    assert note_warnings(chain, data.notes, samples=4, uncropped=4) == [
        f"face_crop found no face in 4 of 4 uncropped samples (e.g. {ids[0]}); their whole frames were used "
        f"(listed in run.json)"]
    fixed = build_chain(REGISTRY, TINY_CHAIN + (("htnet_patches", {"grid": 16}),), "model 'x'")
    assert summarise_notes(fixed, prepare(samples, fixed, TINY_INPUT, workers=1, progress=False).notes) == {}


def test_the_plugin_guides_step_example_builds_is_checked_and_notes_as_the_guide_says():
    """docs/plugins.md's step: its refusal line is the one the guide prints, and its image and note are what it says."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[3] / "docs" / "plugins.md").read_text()
    code = re.search(r"`mebench_flow_magnitude.py`\s*\n\s*```python\n(.*?)```", guide, re.S).group(1)
    module = types.ModuleType("mebench_flow_magnitude")
    exec(compile(code, "mebench_flow_magnitude.py", "exec"), module.__dict__)
    registry = tiny_registry(module)
    refusal = re.search(r"^    (model 'flow-magnitude': .*)$", guide, re.M).group(1)
    with pytest.raises(ConfigError) as refused:
        build_chain(registry, ("apex_frame", "flow_magnitude"), "model 'flow-magnitude'")
    assert str(refused.value) == refusal

    chain = build_chain(registry, ("apex_frame", ("tvl1_flow", {"size": 0}), ("flow_magnitude", {"threshold": 1e9})),
                        "model 'flow-magnitude'")
    sample = load_synthetic(subjects=1, clips_per_subject=1, size=48)[0]
    item = {"sample": sample}
    for step in chain[:2]:
        item = step(item)
    expected = np.sqrt(item["flow"][..., 0] ** 2 + item["flow"][..., 1] ** 2)
    data = prepare([sample], chain, dataclasses.replace(TINY_INPUT, channels=1, height=48, width=48), workers=1,
                   progress=False)
    assert np.allclose(data.x[0, 0].numpy(), expected, atol=1e-5) and expected.max() > 0.1
    assert data.notes == {sample.id: {"apex_index": sample.apex, "still": True}}  # under a threshold of 1e9
    assert summarise_notes(chain, data.notes) == {"still_samples": [sample.id]}
