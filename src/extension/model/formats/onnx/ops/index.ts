/** The ONNX operator library: every supported op type of the default domain, as tfjs functions. */
import type { OpTable } from './op-types';
import { ACTIVATION_OPS } from './activation';
import { CONV_OPS } from './conv';
import { ELEMENTWISE_OPS } from './elementwise';
import { MATMUL_OPS } from './matmul';
import { NORM_OPS } from './norm';
import { POOL_OPS } from './pool';
import { REDUCE_OPS } from './reduce';
import { SCATTER_OPS } from './scatter';
import { SHAPE_OPS } from './shape';

export const ONNX_OPS: OpTable = {
  ...CONV_OPS,
  ...POOL_OPS,
  ...NORM_OPS,
  ...ACTIVATION_OPS,
  ...ELEMENTWISE_OPS,
  ...MATMUL_OPS,
  ...SHAPE_OPS,
  ...REDUCE_OPS,
  ...SCATTER_OPS,
};

export type { Attrs, AttrValue, NhwcResult, OpContext, OpDef, OpTable } from './op-types';
