/** The sanity-check result types live in src/shared (the panel reads them too). */
export * from '../../shared/sanity';
