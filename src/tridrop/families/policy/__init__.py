"""Variable-width policies (the paper's RL experiment): a PPO expert per environment, students
with Triangular Dropout distilled from it (behaviour cloning and DAgger), their closed-loop
return at every width, the no-TD cuts as controls, the task-complexity table and claims."""
