/**
 * What the project's Keras layers share in their configs: initializers given by name, config dict
 * or instance (with the dict that serialises them back unchanged), and regularizers and
 * constraints kept as config data (they act in training only and are not applied here).
 */
import { serialization } from '@tensorflow/tfjs-core';
import { initializers } from '@tensorflow/tfjs-layers';

export type Initializer = ReturnType<typeof initializers.ones>;
type ConfigValue = serialization.ConfigDictValue;

/** A registered initializer's name (`'glorotUniform'`, `'glorot_uniform'`, `'GlorotUniform'`), its config dict, or an instance. */
export type InitializerSpec = string | serialization.ConfigDict | Initializer;

const SEED_ONLY = new Set(['GlorotUniform', 'GlorotNormal', 'HeNormal', 'HeUniform', 'LeCunNormal', 'LeCunUniform']);
/** Keras class names that tfjs registers under another spelling. */
const CLASS_ALIASES: Record<string, string> = { LecunNormal: 'LeCunNormal', LecunUniform: 'LeCunUniform' };

export const deepCopy = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

function isInitializer(x: unknown): x is Initializer {
  return typeof x === 'object' && x !== null && typeof (x as Initializer).apply === 'function' && typeof (x as Initializer).getClassName === 'function';
}

function registeredClass(className: string, what: string, owner: string): [serialization.SerializableConstructor<serialization.Serializable>, serialization.FromConfigMethod<serialization.Serializable>] {
  const map = serialization.SerializationMap.getMap().classNameMap;
  const entry = map[className] ?? map[CLASS_ALIASES[className] ?? ''];
  if (!entry) throw new Error(`${owner}: unknown ${what} ${className}`);
  return entry;
}

/**
 * An initializer from a name, a config dict or an instance, with the config dict that serialises it
 * (a given dict is kept as it is, so a Keras config round-trips unchanged).
 */
export function resolveInitializer(spec: InitializerSpec | null | undefined, fallback: string, owner: string): { init: Initializer; config: serialization.ConfigDict } {
  if (spec == null) spec = fallback;
  if (isInitializer(spec)) return { init: spec, config: { className: spec.getClassName(), config: spec.getConfig() } };
  if (typeof spec === 'string') {
    const camel = spec.replace(/_+(\w)/g, (_m, c: string) => c.toUpperCase());
    const name = CLASS_ALIASES[camel[0].toUpperCase() + camel.slice(1)] ?? camel[0].toUpperCase() + camel.slice(1);
    const [cls, fromConfig] = registeredClass(name, 'initializer', owner);
    const init = fromConfig(cls, {}) as Initializer;
    return { init, config: { className: name, config: SEED_ONLY.has(name) ? { seed: null } : init.getConfig() } };
  }
  const className = spec.className;
  if (typeof className !== 'string') throw new Error(`${owner}: malformed initializer config ${JSON.stringify(spec)}`);
  const [cls, fromConfig] = registeredClass(className, 'initializer', owner);
  // The deserializer may add keys (customObjects) to what it is given: hand it a copy.
  const init = fromConfig(cls, deepCopy((spec.config ?? {}) as serialization.ConfigDict)) as Initializer;
  const config = deepCopy(spec);
  delete config.customObjects;
  const inner = config.config;
  if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) delete inner.customObjects;
  return { init, config };
}

/** The kernel / bias arguments Keras' dense-like layers (Dense, EinsumDense, MultiHeadAttention) share. */
export interface KernelBiasArgs {
  kernelInitializer?: InitializerSpec | null;
  biasInitializer?: InitializerSpec | null;
  /** Regularizers and constraints only act in training: kept in the config, not applied. */
  kernelRegularizer?: ConfigValue | serialization.Serializable;
  biasRegularizer?: ConfigValue | serialization.Serializable;
  activityRegularizer?: ConfigValue | serialization.Serializable;
  kernelConstraint?: ConfigValue | serialization.Serializable;
  biasConstraint?: ConfigValue | serialization.Serializable;
}

const TRAINING_ONLY = ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint'] as const;

/** The regularizers and constraints of a layer's arguments, as the config data that serialises them. */
export function trainingOnlyConfigs(args: KernelBiasArgs): Record<(typeof TRAINING_ONLY)[number], ConfigValue> {
  return Object.fromEntries(TRAINING_ONLY.map((k) => [k, trainingOnlyConfig(args[k])])) as Record<(typeof TRAINING_ONLY)[number], ConfigValue>;
}

/** A regularizer or constraint as config data (they only matter in training and are not applied). */
function trainingOnlyConfig(x: ConfigValue | serialization.Serializable | undefined): ConfigValue {
  if (x == null) return null;
  if (x instanceof serialization.Serializable) return { className: x.getClassName(), config: x.getConfig() };
  return deepCopy(x);
}
