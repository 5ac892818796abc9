/** The webview's entry: the same bundle draws the explain, sanity-check, TCAV and token-attention panels. */
import { startExplainView } from './explain-view';
import { startSanityView } from './sanity-view';
import { startTcavView } from './tcav-view';
import { startAttentionTokenView } from './attention-token-view';

const view = document.body.dataset.view;
if (view === 'sanity') startSanityView();
else if (view === 'tcav') startTcavView();
else if (view === 'attention') startAttentionTokenView();
else startExplainView();
