/** The webview's entry: the same bundle draws the explain panel and the sanity-check panel. */
import { startExplainView } from './explain-view';
import { startSanityView } from './sanity-view';

if (document.body.dataset.view === 'sanity') startSanityView();
else startExplainView();
