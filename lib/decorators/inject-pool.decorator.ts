import { Inject } from '@nestjs/common';
import { getPoolToken } from '../utils/get-pool-token.util.js';

/** Injects the `ConnectionPool` named `name`. */
export const InjectPool = (name: string): ParameterDecorator & PropertyDecorator => Inject(getPoolToken(name));
