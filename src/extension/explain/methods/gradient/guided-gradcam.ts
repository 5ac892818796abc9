/**
 * Guided Grad-CAM (Selvaraju et al. 2017, Sec. 3.1): the Guided Backprop map times the Grad-CAM
 * map bilinearly upsampled to the input resolution: fine detail from the former, class
 * selectivity from the latter. The paper multiplies per channel; as the Grad-CAM factor is the
 * same for every channel of a pixel, multiplying the channel-summed Guided Backprop map is the
 * same thing.
 */
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import { throwIfCancelled } from '../../../../shared/errors';
import { spatialLayerOrThrow } from '../../../model/layer-info';
import { resizeMap } from '../../../../shared/map-ops';
import { gradCam } from '../cam/gradcam';
import { guidedBackprop } from './guided-backprop';

export const guidedGradCam: Explainer = {
  id: 'guidedgradcam',
  label: 'Guided Grad-CAM',
  family: 'gradient',
  needs: { gradients: true, spatialLayer: true, reluHook: true },
  params: [],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, layer, signal, onProgress } = req;
    const info = spatialLayerOrThrow(adapter.layers, layer, 'Guided Grad-CAM');
    throwIfCancelled(signal);
    const guided = await guidedBackprop.explain({ ...req, onProgress: undefined });
    onProgress?.(0.5);
    throwIfCancelled(signal);
    const cam = await gradCam.explain({ ...req, layer: info.name, onProgress: undefined });
    const { height, width } = guided;
    const up = resizeMap(cam.data, cam.height, cam.width, height, width);
    const data = new Float32Array(height * width);
    for (let i = 0; i < data.length; i++) data[i] = guided.data[i] * up[i];
    onProgress?.(1);
    return { data, height, width, layer: info.name, signed: true };
  },
};
