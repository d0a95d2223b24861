"""Learning-rate schedules."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasnets")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The warm-up schedule of Vaswani et al. (2017), §5.3:

        lrate = scale · d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)

    It rises linearly for `warmup_steps` steps, then decays as 1/√step
    (`step` counts from 1). The paper uses `warmup_steps=4000`, `scale=1`.

        schedule = TransformerSchedule(d_model=128, warmup_steps=4000)
        optimizer = keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    """

    def __init__(self, d_model, warmup_steps=4000, scale=1.0):
        self.d_model = int(d_model)
        self.warmup_steps = int(warmup_steps)
        self.scale = float(scale)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        rise = step * self.warmup_steps**-1.5
        decay = ops.rsqrt(step)
        return self.scale * self.d_model**-0.5 * ops.minimum(rise, decay)

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}
