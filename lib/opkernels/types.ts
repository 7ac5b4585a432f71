// The public types of the non-GEMM ops, re-exported by lib/index.ts.
export type * from './norm.js';
export type { ActivationKind, OutputOptions, GeluOptions, DropoutOptions } from './elementwise.js';
export type * from './embedding.js';
export type * from './xent.js';
export type * from './optim.js';
