export {
  BreakGlassBanner,
  BreakGlassRunNotice,
  breakGlassSummary,
} from './BreakGlassBanner';
export { BreakGlassDialog } from './BreakGlassDialog';
