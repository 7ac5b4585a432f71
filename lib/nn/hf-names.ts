// Parameter names between lib/nn and Hugging Face's BART/Marian checkpoints. lib/nn names its
// parameters as transformers does inside `model.` (shared, encoder.layers.N.self_attn.q_proj, ...);
// only the logits bias and the untied output projection sit outside that prefix.

const TOP_LEVEL = new Set(['final_logits_bias', 'lm_head.weight']);

/** 'encoder.layers.0.fc1.weight' -> 'model.encoder.layers.0.fc1.weight'; 'final_logits_bias' stays. */
export function toHfName(name: string): string {
  return TOP_LEVEL.has(name) ? name : `model.${name}`;
}

/** The inverse of {@link toHfName}. */
export function fromHfName(hfName: string): string {
  return hfName.startsWith('model.') ? hfName.slice('model.'.length) : hfName;
}
