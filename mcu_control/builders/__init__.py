"""Turn profile sections into driver objects.

Drivers import only `devices`, never `profiles`; these builders are where a profile's
configuration (secrets resolved, model data unpacked into plain values) meets a driver's
constructor. One module per device kind, each exposing one `build(...)` function:

- `mcu.build(loaded: LoadedProfile) -> Mcu`
- `camera.build(loaded: LoadedProfile, point: PointConfig, cfg: CameraConfig) -> PtzCamera`
- `mixer.build(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> AudioMixer`
- `codec.build(loaded: LoadedProfile, point: PointConfig, cfg: CodecConfig) -> Codec`
  (also used for the recorder's reachability, with a CodecConfig made from the recorder)

Device names passed to drivers are "<point id>.<device id>" so every error names the device.
"""
