/** File extensions of the images XAI Lens can read (what sharp decodes, plus BMP). */
import * as path from 'node:path';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'avif'];

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).slice(1).toLowerCase());
}
