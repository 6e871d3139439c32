"""One rank of the multi-process distillation test: run a recipe, then save this rank's parameters.

Usage:
    torchrun --standalone --nproc_per_node 2 tests/distill/ddp_worker.py RECIPE.yaml STATE_DIR [key=value ...]

Writes STATE_DIR/rank<i>.safetensors (the DistillModule's state: student + loss projections) and
STATE_DIR/rank<i>.json (world size, batches seen). Run by tests/distill/test_ddp.py with train.cpu=true,
so accelerate runs DDP over gloo on CPU.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from speechdistill.distill.config import load_distill_config
from speechdistill.distill.training import fit, prepare


def main(argv: list[str]) -> None:
    recipe, state_dir, overrides = argv[0], Path(argv[1]), argv[2:]
    run = prepare(load_distill_config(recipe, overrides))
    result = fit(run)
    rank = run.accelerator.process_index
    state = {k: v.detach().cpu().contiguous() for k, v in run.module.state_dict().items()}
    state_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(state_dir / f"rank{rank}.safetensors"))
    facts = {"world_size": run.accelerator.num_processes, "updates": result.updates,
             "audio_hours_seen": result.audio_hours_seen}
    (state_dir / f"rank{rank}.json").write_text(json.dumps(facts))


if __name__ == "__main__":
    main(sys.argv[1:])
