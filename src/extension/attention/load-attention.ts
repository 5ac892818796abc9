/** Loads any model file for attention maps, through its format. */
import { UserError } from '../../shared/errors';
import { formatOf, resolveModelFile } from '../model/formats/registry';
import type { AttentionModel } from './attention-model';

export async function loadAttentionModel(modelPath: string): Promise<AttentionModel> {
  const file = resolveModelFile(modelPath);
  const format = formatOf(file);
  if (!format.loadAttention) throw new UserError(`attention maps are not available for ${format.label}s (${file})`);
  return format.loadAttention(file);
}
