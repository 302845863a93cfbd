// examples/readme/app.module.ts
import { Controller, Module, Param, Post } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ConnmanHealthIndicator } from 'nestjs-connman/health';
import { HealthController } from './health.controller.js';
import { CounterModule, CounterService } from './redis.module.js';

@Controller('counter')
export class CounterController {
  constructor(private readonly counter: CounterService) {}

  @Post(':key')
  async increment(@Param('key') key: string): Promise<{ key: string; value: number }> {
    return { key, value: await this.counter.increment(key) };
  }
}

// ConnmanHealthIndicator injects Terminus's HealthIndicatorService:
// provide it in the module that imports TerminusModule.
@Module({
  imports: [CounterModule, TerminusModule],
  controllers: [CounterController, HealthController],
  providers: [ConnmanHealthIndicator],
})
export class AppModule {}
