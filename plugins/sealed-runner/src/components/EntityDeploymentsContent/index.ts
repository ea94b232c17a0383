export { EntityDeploymentsContent } from './EntityDeploymentsContent';
