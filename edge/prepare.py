"""Get a model ready for every target once: build, fold, torch.export, eager reference outputs."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from common.errors import ExportError
from common.fx_provenance import share_node_provenance
from common.preprocess import verification_inputs
from common.quiet import captured_output
from edge.corpus.hf import is_pretrained_folder
from edge.io_form import DEFAULT, InputForm, uint8_pixels_roundtrip
from edge.io_form import input_form as resolve_form
from edge.loading import build_model, model_config
from edge.model_io import (
    check_finite,
    check_single_input,
    describe_form,
    failing_submodule,
    output_form,
    run_forward,
    with_single_output,
)
from edge.models.registry import ModelConfig
from edge.models.stats import count_macs, count_params


@dataclass
class PreparedModel:
    name: str
    config: ModelConfig
    model: nn.Module  # reparameterized copy, eval, fp32
    example_inputs: tuple
    program: torch.export.ExportedProgram
    verify_inputs: list[torch.Tensor]
    eager_outputs: list[torch.Tensor]  # of the model as given (before folding), on verify_inputs
    params: int
    gmacs: float
    verify_note: str = "edge's sample photographs and one noise image, with the model's preprocessing"
    pruning: dict | None = None  # quant.prune's report when the model was pruned
    output_source: str = "the model's output tensor"  # or the 'logits' entry / first item (edge.model_io)
    input_form: InputForm = DEFAULT  # what the artifacts take; `program` is of the model behind that form
    form_inputs: tuple = ()  # example_inputs in that form (what the converters trace with)
    _image_program: torch.export.ExportedProgram | None = None

    def feed(self, x: torch.Tensor) -> torch.Tensor:
        """A preprocessed NCHW float input (verification, calibration) in the artifacts' input form."""
        return self.input_form.feed(x, self.config.mean, self.config.std)

    def image_program(self) -> torch.export.ExportedProgram:
        """For a backend with its own image input (Core ML's ImageType): the model behind a per-channel
        correction of the image's scale and bias, with softmax probabilities out (a classifier)."""
        if self._image_program is None:
            from edge.io_form import ImageClassifierInput

            wrapped = ImageClassifierInput(self.model, self.config.mean, self.config.std)
            self._image_program = export_program(wrapped, self.example_inputs)
        return self._image_program


def prepare(
    model_or_name,
    example_inputs=None,
    *,
    name: str | None = None,
    num_classes: int | None = None,
    input_size: int | None = None,
    weights=None,
    reparameterize: bool = True,
    prune=None,
    input_form: str | InputForm | None = None,
) -> PreparedModel:
    form = resolve_form(input_form)
    given = build_model(model_or_name, num_classes=num_classes, input_size=input_size, weights=weights)
    check_single_input(given)
    if example_inputs is not None:
        example_inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
        if len(example_inputs) != 1 or example_inputs[0].ndim != 4:
            raise ExportError("example_inputs must be one NCHW image tensor, e.g. torch.randn(1, 3, 224, 224).")
        input_size = input_size or int(example_inputs[0].shape[-1])
    config = model_config(
        given,
        input_size,
        name=name
        or (
            model_or_name
            if isinstance(model_or_name, str) and ":" not in model_or_name and not is_pretrained_folder(model_or_name)
            else None
        ),
    )
    if example_inputs is None:
        example_inputs = (torch.zeros(1, config.in_chans, config.input_size, config.input_size),)
    size, chans = int(example_inputs[0].shape[-1]), int(example_inputs[0].shape[1])
    shape = "x".join(str(d) for d in example_inputs[0].shape)
    form_of_output, key = output_form(run_forward(given, example_inputs[0], f"a {shape} input"))
    given = with_single_output(given, form_of_output, key)
    if not form.is_default and chans != 3:
        raise ExportError(
            f"input form {form.name} is for RGB images; this model takes {chans} channels. Use --input-form nchw-float."
        )
    verify = verification_inputs(config, in_chans=chans)
    if form.dtype == "uint8":  # a uint8 artifact sees pixels: the noise image too must be on the pixel grid
        verify = [uint8_pixels_roundtrip(x, config.mean, config.std) for x in verify]
    pruning, label = None, config.name
    if prune is not None:  # prune before folding: the pruned model is the eager reference from here on
        from quant.prune import prune_tag, prune_with

        given, pruning = prune_with(given, example_inputs, prune, calib=torch.cat(verify))
        label = name or f"{config.name}-{prune_tag(pruning)}"
    eager = [run_forward(given, x, "edge's sample photographs") for x in verify]
    check_finite(eager, "edge's sample photographs")
    model = copy.deepcopy(given).eval()  # never rewrite the caller's module in place
    if reparameterize and callable(getattr(model, "reparameterize", None)):
        model = model.reparameterize()
    form_inputs = (
        example_inputs if form.is_default else (torch.zeros(form.shape(size, chans), dtype=getattr(torch, form.dtype)),)
    )
    program = export_program(form.wrap(model, config.mean, config.std), form_inputs)
    return PreparedModel(
        name=label,
        config=config,
        model=model,
        example_inputs=example_inputs,
        program=program,
        verify_inputs=verify,
        eager_outputs=eager,
        input_form=form,
        form_inputs=form_inputs,
        params=count_params(given),
        gmacs=round(count_macs(given, config.input_size, config.in_chans) / 1e9, 4),
        pruning=pruning,
        output_source=describe_form(form_of_output),
    )


def export_program(model: nn.Module, example_inputs: tuple) -> torch.export.ExportedProgram:
    """torch.export (non-strict); a failure names the submodule whose code could not be traced."""
    share_node_provenance()  # every later pass over this program records provenance in constant time
    try:
        with captured_output():  # torch.export logs the whole graph when it fails
            return torch.export.export(model, example_inputs, strict=False)
    except Exception as e:  # torch.export raises many unrelated types; all mean "cannot export"
        where = failing_submodule(model, e)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = (
            " Data-dependent control flow (an `if` on tensor values) cannot be exported; use torch.where or torch.cond."
            if "data-dependent" in str(e).lower() or "guard" in str(e).lower()
            else ""
        )
        raise ExportError(f"torch.export failed in {where}: {first[:300]}.{hint}") from None
