export { EntityDeploymentsCard } from './EntityDeploymentsCard';
