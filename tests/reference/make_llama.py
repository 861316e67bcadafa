#!/usr/bin/env python3
"""Random-initialised Llama models and transformers' reference outputs, for offload-llama.

Needs torch, transformers (5.x; 4.5x works too), safetensors and, for
--accelerate-decode, accelerate: run on the GPU machine. Every mode is seeded
and writes only under the paths it is given.

  make_llama.py --tiny OUT_DIR
      Two tiny LlamaForCausalLM models (rope_type llama3) and their float32
      logits on the CPU, the fixture of the CI test tests/llama/reference_test.cpp:
        OUT_DIR/llama-tiny-untied/  separate lm_head, bf16 weights, sharded (an index and several shards)
        OUT_DIR/llama-tiny-tied/    tie_word_embeddings, fp16 weights, one model.safetensors
      each with config.json and reference.json: the prompt, the greedy continuation
      and the logits at every position of prompt + continuation[:-1]. The weights are
      stored in 16 bits to keep the fixture small; the logits are computed in float32
      from exactly those values, as the host engine computes them.

  make_llama.py --model OUT_DIR --shape 1b|8b [--seed S]
      A bf16 random model with the Llama-3.2-1B or Llama-3.1-8B config (initializer_range
      0.02), built on the GPU, saved as safetensors in 5 GB shards.

  make_llama.py --reference-logits MODEL_DIR --ids 1,2,3 --out FILE.npy
      transformers' bf16 logits on the GPU at every position of the ids (a teacher-forced
      sequence), as a float32 [positions x vocab] .npy file, the layout of offload-llama --logits.

  make_llama.py --accelerate-decode MODEL_DIR --resident K --tokens N
      Decode time of transformers + accelerate offloading: layers K.. on "cpu" in the
      device_map (moved to the GPU at each forward by accelerate's hooks), the rest on
      cuda:0. Prints one line of JSON with the milliseconds of each decode token.
"""
import argparse
import array
import inspect
import json
import os
import shutil
import statistics
import sys
import time

import torch

TINY_PROMPT = [1, 17, 42, 99, 3, 250, 128, 7, 64, 200, 11, 5]
TINY_NEW_TOKENS = 8

# Small enough that both models, weights and logits, are a few hundred KB;
# head_dim 16 gives 8 frequencies, which llama3 scaling (original context 64)
# splits into kept (wavelength < 16), interpolated and divided (> 64) ones.
TINY = dict(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
            # Larger than the usual 0.02 so that attention is not uniform and the
            # top logits are well apart: a wrong rotation or mask changes them.
            initializer_range=0.2)
TINY_ROPE = dict(rope_theta=10000.0, rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                 original_max_position_embeddings=64)

SHAPES = {
    # meta-llama/Llama-3.2-1B config.json
    "1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
               num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
               rms_norm_eps=1e-5, initializer_range=0.02, tie_word_embeddings=True,
               rope=dict(rope_theta=500000.0, rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                         high_freq_factor=4.0, original_max_position_embeddings=8192)),
    # meta-llama/Llama-3.1-8B config.json
    "8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
               rms_norm_eps=1e-5, initializer_range=0.02, tie_word_embeddings=False,
               rope=dict(rope_theta=500000.0, rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                         high_freq_factor=4.0, original_max_position_embeddings=8192)),
}


def llama_config(fields, rope):
    """A LlamaConfig, with the rotary settings spelled as this transformers expects them."""
    from transformers import LlamaConfig
    fields = dict(fields)
    if "rope_parameters" in inspect.signature(LlamaConfig.__init__).parameters:  # transformers 5
        fields["rope_parameters"] = dict(rope)
    else:
        scaling = {k: v for k, v in rope.items() if k != "rope_theta"}
        fields.update(rope_theta=rope["rope_theta"], rope_scaling=scaling)
    return LlamaConfig(**fields)


def load(model_dir, dtype, **kwargs):
    from transformers import LlamaForCausalLM
    return LlamaForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager", **kwargs).eval()


def float9(v):
    """A float32 as the shortest decimal that reads back to the same float32."""
    return float(f"{v:.9g}")


def tiny_reference(model):
    """The greedy continuation of TINY_PROMPT and the float32 logits at every position fed."""
    sequence = list(TINY_PROMPT)
    with torch.no_grad():
        for _ in range(TINY_NEW_TOKENS):
            logits = model(torch.tensor([sequence])).logits[0, -1]
            sequence.append(int(torch.argmax(logits)))
        fed = sequence[:-1]
        logits = model(torch.tensor([fed])).logits[0].float()
    generated = sequence[len(TINY_PROMPT):]
    for k, token in enumerate(generated):
        if int(torch.argmax(logits[len(TINY_PROMPT) - 1 + k])) != token:
            sys.exit(f"the greedy token {k} differs between the step-by-step and the full pass")
    return generated, logits


def save_tiny(directory, tied, storage_dtype, shard_size, seed):
    from transformers import LlamaForCausalLM
    torch.manual_seed(seed)
    config = llama_config(dict(TINY, tie_word_embeddings=tied), TINY_ROPE)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        # Norm weights start at 1; random ones make a norm that ignores its weight visible.
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
    if os.path.exists(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    model.to(storage_dtype).save_pretrained(directory, max_shard_size=shard_size)
    path = os.path.join(directory, "generation_config.json")
    if os.path.exists(path):
        os.remove(path)


def make_tiny_variant(out_dir, name, tied, storage_dtype, shard_size, first_seed):
    directory = os.path.join(out_dir, name)
    # The greedy ids are compared only where no position's top two logits are
    # closer than 1e-3 of the largest |logit|: the first seed from first_seed
    # that gives such a model is kept.
    for seed in range(first_seed, first_seed + 50):
        save_tiny(directory, tied, storage_dtype, shard_size, seed)
        # The reference is computed from what was saved, read back in float32.
        generated, logits = tiny_reference(load(directory, torch.float32))
        top2 = torch.topk(logits, 2, dim=-1).values
        margin = float((top2[:, 0] - top2[:, 1]).min())
        largest = float(logits.abs().max())
        if margin > 1e-3 * largest:
            break
        print(f"{name}: seed {seed}: top two logits {margin:.3g} apart somewhere, largest |logit| {largest:.3g}; "
              "trying the next seed")
    else:
        sys.exit(f"{name}: no seed from {first_seed} gave top-two margins above 1e-3 of the largest |logit|")
    reference = {
        "made_by": "tests/reference/make_llama.py --tiny",
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "seed": seed,
        "storage_dtype": str(storage_dtype).replace("torch.", ""),
        "prompt": TINY_PROMPT,
        "generated": generated,
        "logits_positions": logits.shape[0],
        "min_top2_margin": margin,
        "max_abs_logit": largest,
        "logits": [[float9(v) for v in row] for row in logits.tolist()],
    }
    with open(os.path.join(directory, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
    print(f"{directory}: {sorted(os.listdir(directory))}, {size} bytes; seed {seed}; generated {generated}; "
          f"min top-2 margin {margin:.4g}, max |logit| {largest:.4g}")


def make_tiny(out_dir):
    make_tiny_variant(out_dir, "llama-tiny-untied", tied=False, storage_dtype=torch.bfloat16, shard_size="40KB",
                      first_seed=11)
    make_tiny_variant(out_dir, "llama-tiny-tied", tied=True, storage_dtype=torch.float16, shard_size="50GB",
                      first_seed=1000)


def make_model(out_dir, shape, seed):
    from transformers import LlamaForCausalLM
    fields = dict(SHAPES[shape])
    rope = fields.pop("rope")
    config = llama_config(fields, rope)
    torch.manual_seed(seed)
    start = time.time()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            model = LlamaForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(previous)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, max_shard_size="5GB")
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model": out_dir, "shape": shape, "parameters": params, "seconds": round(time.time() - start, 1)}))


def write_npy(path, tensor):
    """A float32 [rows x cols] .npy (format 1.0), without NumPy."""
    rows, cols = tensor.shape
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    total = (10 + len(header) + 1 + 63) // 64 * 64
    header = header + " " * (total - 10 - len(header) - 1) + "\n"
    values = array.array("f", tensor.float().cpu().flatten().tolist())
    if sys.byteorder != "little":
        values.byteswap()
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("ascii"))
        f.write(values.tobytes())


def reference_logits(model_dir, ids, out):
    model = load(model_dir, torch.bfloat16, device_map={"": 0})
    with torch.no_grad():
        logits = model(torch.tensor([ids], device="cuda:0")).logits[0]
    write_npy(out, logits)
    print(json.dumps({"model": model_dir, "positions": len(ids), "vocab": logits.shape[1], "out": out}))


def accelerate_decode(model_dir, resident, tokens, seed):
    from accelerate import init_empty_weights
    from transformers import AutoConfig, LlamaForCausalLM
    config = AutoConfig.from_pretrained(model_dir)
    layers = config.num_hidden_layers
    if not 0 <= resident <= layers:
        sys.exit(f"--resident {resident}: the model has {layers} layers")
    with init_empty_weights():
        skeleton = LlamaForCausalLM(config)
    device_map = {f"model.{name}": 0 for name, _ in skeleton.model.named_children() if name != "layers"}
    device_map["lm_head"] = 0
    for i in range(layers):
        device_map[f"model.layers.{i}"] = 0 if i < resident else "cpu"
    model = load(model_dir, torch.bfloat16, device_map=device_map)

    torch.manual_seed(seed)
    prompt = torch.randint(0, config.vocab_size, (1, 16), device="cuda:0")
    times = []
    with torch.no_grad():
        out = model(prompt, use_cache=True)
        past, next_id = out.past_key_values, out.logits[:, -1:].argmax(-1)
        for _ in range(tokens):
            torch.cuda.synchronize()
            start = time.perf_counter()
            out = model(next_id, past_key_values=past, use_cache=True)
            past, next_id = out.past_key_values, out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            times.append(1e3 * (time.perf_counter() - start))
    measured = times[1:] if len(times) > 1 else times  # the first token warms accelerate's hooks up
    print(json.dumps({"model": model_dir, "layers": layers, "resident": resident, "tokens": tokens,
                      "ms_per_token_median": statistics.median(measured),
                      "ms_per_token_mean": statistics.fmean(measured),
                      "ms_per_token": [round(t, 3) for t in times],
                      "device": torch.cuda.get_device_name(0)}))


def id_list(text):
    try:
        ids = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers")
    if not ids or min(ids) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: ids must be non-negative and at least one")
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--tiny", metavar="OUT_DIR", help="write the two tiny fixture models and their references")
    mode.add_argument("--model", metavar="OUT_DIR", help="write a bf16 random model of --shape")
    mode.add_argument("--reference-logits", metavar="MODEL_DIR", help="write bf16 logits of --ids to --out")
    mode.add_argument("--accelerate-decode", metavar="MODEL_DIR", help="time decode with accelerate offloading")
    parser.add_argument("--shape", choices=sorted(SHAPES), help="with --model")
    parser.add_argument("--seed", type=int, default=0, help="with --model and --accelerate-decode (default 0)")
    parser.add_argument("--ids", type=id_list, help="with --reference-logits: 1,2,3")
    parser.add_argument("--out", help="with --reference-logits: the .npy file to write")
    parser.add_argument("--resident", type=int, help="with --accelerate-decode: layers kept on the GPU")
    parser.add_argument("--tokens", type=int, default=16, help="with --accelerate-decode: decode tokens (default 16)")
    args = parser.parse_args()

    if args.tiny:
        torch.use_deterministic_algorithms(True)
        make_tiny(args.tiny)
    elif args.model:
        if not args.shape:
            parser.error("--model needs --shape 1b or 8b")
        make_model(args.model, args.shape, args.seed)
    elif args.reference_logits:
        if not args.ids or not args.out:
            parser.error("--reference-logits needs --ids and --out")
        reference_logits(args.reference_logits, args.ids, args.out)
    else:
        if args.resident is None:
            parser.error("--accelerate-decode needs --resident K")
        if args.tokens < 1:
            parser.error("--tokens must be at least 1")
        accelerate_decode(args.accelerate_decode, args.resident, args.tokens, args.seed)


if __name__ == "__main__":
    main()
