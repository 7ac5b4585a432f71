// The checkpoints test/io.checkpoint.kill.test.ts and its child (checkpoint-saver.mjs) save: every
// part is a function of one counter, so a loaded checkpoint can be checked whole against the
// counter its config claims. About 3 MB each; the optional parts come and go with the counter, so
// a save also has to remove files of the one before.

/** Weights [rows, cols] for `counter`: small integers, exact in float32. */
function tensor(counter, salt, rows, cols) {
  const data = new Float32Array(rows * cols);
  const base = counter * 131 + salt * 17;
  for (let i = 0; i < data.length; i++) data[i] = (base + i) % 4099;
  return { shape: [rows, cols], data };
}

/** What a save of `counter` writes (a CheckpointInput). */
export function checkpointFor(counter) {
  const ck = {
    config: { counter, note: 'kill test' },
    weights: new Map([['a', tensor(counter, 1, 256, 1024)], ['b', tensor(counter, 2, 512, 512)]]),
  };
  if (counter % 2 === 0) ck.tokenizers = { src: { counter } };
  if (counter % 3 === 0) ck.optimizer = { step: counter, state: new Map([['m.a', tensor(counter, 3, 256, 1024)]]), hyper: { lr: 0.5 } };
  if (counter % 3 === 1) ck.trainer = { step: counter };
  return ck;
}

/** The top-level files a complete save of `counter` leaves. */
export function filesFor(counter) {
  return ['checkpoint.json', 'config.json', 'model.safetensors',
    ...(counter % 2 === 0 ? ['tokenizer.src.json'] : []),
    ...(counter % 3 === 0 ? ['optimizer.safetensors'] : []),
    ...(counter % 3 === 1 ? ['trainer.json'] : [])].sort();
}

/** Why loaded checkpoint `ck` is not exactly the save of its config's counter, or undefined if it is. */
export function mismatch(ck) {
  const counter = ck.config.counter;
  if (!Number.isSafeInteger(counter)) return `config.counter is ${counter}`;
  const want = checkpointFor(counter);
  const same = (a, b) => a && b && a.data.length === b.data.length && a.shape.join() === b.shape.join() && a.data.every((x, i) => x === b.data[i]);
  for (const [name, t] of want.weights) if (!same(ck.weights.get(name), t)) return `weights '${name}' are not those of save ${counter}`;
  if (ck.weights.size !== want.weights.size) return `${ck.weights.size} weight tensors`;
  if (JSON.stringify(ck.tokenizers) !== JSON.stringify(want.tokenizers)) return `tokenizers ${JSON.stringify(ck.tokenizers)} for save ${counter}`;
  if (JSON.stringify(ck.trainer) !== JSON.stringify(want.trainer)) return `trainer ${JSON.stringify(ck.trainer)} for save ${counter}`;
  if ((ck.optimizer === undefined) !== (want.optimizer === undefined)) return `optimizer state ${ck.optimizer ? 'present' : 'absent'} for save ${counter}`;
  if (want.optimizer && (ck.optimizer.step !== counter || !same(ck.optimizer.state.get('m.a'), want.optimizer.state.get('m.a')))) return `optimizer state not that of save ${counter}`;
  return undefined;
}
