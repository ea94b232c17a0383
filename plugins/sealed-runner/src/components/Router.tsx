import { Route, Routes } from 'react-router-dom';
import { RunPage } from './RunPage';
import { RunsPage } from './RunsPage';

/** The plugin page: the runs list at its root, each run below `runs/:runId`. */
export function Router() {
  return (
    <Routes>
      <Route path="/" element={<RunsPage />} />
      <Route path="/runs/:runId" element={<RunPage />} />
    </Routes>
  );
}
